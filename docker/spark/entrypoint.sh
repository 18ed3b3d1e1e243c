#!/usr/bin/env bash
# Entrypoint of the ngsi-bridge Spark image. Spark's Kubernetes scheduler
# starts the pods it creates with the first argument `driver` or `executor`
# and describes the rest in environment variables; any other command (for
# example `spark-submit ...` or `python3 job.py`) runs as given, so the same
# image also serves as a submit client or a local-mode job.
set -euo pipefail

# Java options Spark hands to executors as SPARK_JAVA_OPT_0, _1, ... in order.
executor_java_options() {
  local name
  while read -r name; do
    printf '%s\0' "${!name}"
  done < <(compgen -e | grep '^SPARK_JAVA_OPT_' | sort -t_ -k4 -n)
}

case "${1:-}" in
  driver)
    shift
    # The scheduler already chose cluster mode; inside the driver pod the
    # application runs in client mode, bound to the pod's own address.
    exec "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=${SPARK_DRIVER_BIND_ADDRESS}" \
      --deploy-mode client \
      "$@"
    ;;
  executor)
    shift
    java_options=()
    while IFS= read -r -d '' option; do
      java_options+=("$option")
    done < <(executor_java_options)
    exec java \
      "-Xms${SPARK_EXECUTOR_MEMORY}" "-Xmx${SPARK_EXECUTOR_MEMORY}" \
      "${java_options[@]}" \
      -cp "$SPARK_HOME/conf:$SPARK_HOME/jars/*${SPARK_CLASSPATH:+:$SPARK_CLASSPATH}" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" \
      --executor-id "$SPARK_EXECUTOR_ID" \
      --cores "$SPARK_EXECUTOR_CORES" \
      --app-id "$SPARK_APPLICATION_ID" \
      --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "$SPARK_EXECUTOR_POD_NAME"
    ;;
  *)
    exec "$@"
    ;;
esac
