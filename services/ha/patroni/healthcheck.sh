#!/bin/bash
# Healthy while Patroni says PostgreSQL runs here (GET /health: 200 on a
# running leader or replica, 503 otherwise).
exec 3<>/dev/tcp/127.0.0.1/8008
printf 'GET /health HTTP/1.0\r\n\r\n' >&3
IFS=' ' read -r -t 3 _ status _ <&3
[[ $status == 200 ]]
