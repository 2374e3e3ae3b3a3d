"""Notification channels: JSON webhooks, WeCom / DingTalk / Feishu robots, e-mail.

Each channel is one module here and registers itself with
:mod:`api.alerts.channels.registry` (the order below is the order in error messages). A
target is written as a URL:

- ``https://hooks.example.com/facmon`` (or ``http://``): a JSON webhook, the alerts as data;
- ``wecom+https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY``: a WeCom group robot;
- ``dingtalk+https://oapi.dingtalk.com/robot/send?access_token=TOKEN&secret=SEC``: a
  DingTalk robot, signed when ``secret`` is given (the secret is not sent);
- ``feishu+https://open.feishu.cn/open-apis/bot/v2/hook/TOKEN?secret=SEC``: a Feishu (or
  Lark) robot, signed when ``secret`` is given;
- ``mailto:ops@example.com,duty@example.com``: e-mail through the configured SMTP server.

The robots are written here rather than through apprise: apprise reports DingTalk's and
WeCom's refusals (HTTP 200 with an error code) as success, cannot sign for Feishu, and waits
5.5 s between two messages to one robot; a failed delivery must be seen and retried.
"""

from api.alerts.channels import webhook, wecom, dingtalk, feishu, email  # noqa: F401, I001
