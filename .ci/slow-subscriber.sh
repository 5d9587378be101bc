#!/usr/bin/env bash
# The slow-subscriber measurement of issue 12 (items 3 and 5): a broker on
# a loopback port, optionally one subscriber that never reads (mosquitto_sub
# piped into sleep), one healthy mosquitto_sub, and mosquitto_pub sending N
# messages of SIZE bytes at QoS Q as fast as the broker takes them.
#
#   .ci/slow-subscriber.sh BROKER PORT QOS SIZE N STUCK
#
# BROKER is a runnel binary (run with an empty flow) or the word mosquitto
# (Debian's, default settings). STUCK is 1 for a stuck subscriber, 0 for
# none. Prints how long the publisher took, how many messages the healthy
# subscriber got, the broker's dropped-message count ($SYS) and its peak and
# current resident memory. Loopback only; every step is bounded in time.
set -u
bin=$1 port=$2 qos=$3 size=$4 n=$5 stuck=$6
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if [ "$bin" = mosquitto ]; then
  printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" > mosquitto.conf
  /usr/sbin/mosquitto -c mosquitto.conf > broker.log 2>&1 &
else
  echo '[]' > empty.json
  "$bin" run --mqtt "127.0.0.1:$port" --watch 0 empty.json > broker.log 2>&1 &
fi
broker=$!
sleep 1
if [ "$stuck" = 1 ]; then
  (timeout 60 mosquitto_sub -p "$port" -q "$qos" -t 'load2/#' | sleep 65 &)
fi
sleep 0.5
( s=$(date +%s.%N)
  timeout 40 mosquitto_sub -p "$port" -q "$qos" -t 'load2/#' -C "$n" | wc -l > healthy.count
  echo "$(date +%s.%N) - $s" | bc > healthy.time ) &
sleep 0.5
s=$(date +%s.%N)
perl -e "print q(A) x $size, qq(\n) for 1..$n" | timeout 30 mosquitto_pub -p "$port" -q "$qos" -l -t load2/x
rc=$?
took=$(echo "$(date +%s.%N) - $s" | bc)
for _ in $(seq 1 45); do [ -s healthy.time ] && break; sleep 1; done
dropped=$(timeout 5 mosquitto_sub -p "$port" -t '$SYS/broker/publish/messages/dropped' -C 1 -W 4)
mem=$(grep -E 'VmHWM|VmRSS' "/proc/$broker/status" | tr -s ' \t' ' ' | tr '\n' ' ')
echo "broker=$(basename "$bin") qos=$qos size=$size n=$n stuck=$stuck publisher_exit=$rc publisher_s=$took healthy_got=$(cat healthy.count) healthy_s=$(cat healthy.time) dropped=${dropped:-?} $mem"
kill "$broker"; wait "$broker" 2>/dev/null
