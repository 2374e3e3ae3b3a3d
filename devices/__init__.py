"""Device knowledge as data: profiles, register decoding, the profile library and simulators."""
