#!/usr/bin/env bash
# Spot / preemptible VM without Kubernetes: run the trainer under this loop (e.g. from systemd or a
# startup script). The cloud's 30 s - 2 min notice arrives as SIGTERM (GCE runs the shutdown script and
# stops the VM's services; on AWS a spot interruption notice watcher, such as
# aws-node-termination-handler, or systemd's stop on shutdown, sends it): the trainer saves and exits 143.
# The loop restarts it on any non-zero status until it exits 0 (training done); on a new VM, the same
# command resumes from the s3:// modelDir.
set -u
export MODEL_DIR="${MODEL_DIR:-s3://my-bucket/runs/mnist-1}"
export LOCK_WAIT_MS="${LOCK_WAIT_MS:-180000}"
child=
trap 'if [ -n "$child" ]; then kill -TERM "$child"; wait "$child"; fi; exit 143' TERM INT
while true; do
  node --require tsx/cjs examples/train_mnist.ts &
  child=$!
  wait "$child"
  status=$?
  child=
  [ "$status" -eq 0 ] && exit 0
  echo "trainer exited with status $status; restarting from the latest checkpoint" >&2
  sleep 1
done
