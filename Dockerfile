# One image for the gateway, collector, API and simulator: `facmon <command>`.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY facmon facmon
COPY devices devices
COPY gateway gateway
COPY collector collector
COPY api api
COPY dashboards dashboards
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /var/lib/facmon --create-home facmon
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER facmon
WORKDIR /var/lib/facmon
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["facmon"]
CMD ["--help"]
