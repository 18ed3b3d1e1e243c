#!/usr/bin/env bash
# Runs a PySpark job on Kubernetes (cluster mode, plain spark-submit, no
# operator) next to ngsi-bridge as deployed by k8s/overlays/prod.
#
#   k8s/examples/spark-submit.sh [local:///path/in/image/job.py] [job args...]
#
# The job file must be inside the image: build one FROM the ngsi-bridge Spark
# image (docker/spark/Dockerfile) with your job copied in. spark-submit comes
# from the same pyspark version as the image (pip install pyspark==4.3.0, or
# run this script inside the image itself). Apply k8s/examples/spark-rbac.yaml
# in the job namespace first.
#
# Settings, from the environment:
#   K8S_API           API server URL (default: the in-cluster address)
#   SPARK_NAMESPACE   namespace the driver and executors run in (spark-jobs)
#   BRIDGE_NAMESPACE  namespace of ngsi-bridge (ngsi-bridge)
#   SPARK_IMAGE       image with Spark and the ngsi_bridge client
#   EXECUTORS         number of executors (2)
set -euo pipefail

k8s_api=${K8S_API:-https://kubernetes.default.svc}
spark_namespace=${SPARK_NAMESPACE:-spark-jobs}
bridge_namespace=${BRIDGE_NAMESPACE:-ngsi-bridge}
spark_image=${SPARK_IMAGE:-registry.example.com/ngsi-bridge/ngsi-bridge-spark:0.1.0}
executors=${EXECUTORS:-2}
job=${1:-local:///opt/spark/work-dir/job.py}
shift || true

bridge_domain="${bridge_namespace}.svc.cluster.local"
# The receiver's ClusterIP Service for gRPC subscriptions and lines; with
# several receiver replicas, subscribe to each through the headless Service
# (ngsi-receiver-0.ngsi-receiver-headless...) to see every event.
receiver_grpc="ngsi-receiver.${bridge_domain}:50051"
receiver_lines="ngsi-receiver.${bridge_domain}:9998"
# The headless Service with dns:/// lets a gRPC client balance its writes
# over every replier replica instead of sticking to one.
replier_grpc="dns:///ngsi-replier-headless.${bridge_domain}:50052"

# Driver and executors carry the label the NetworkPolicies admit
# (ngsi-bridge/role=spark); without it the receiver and replier refuse them.
# The job finds the services in NGSI_BRIDGE_* variables, set on both the
# driver (which subscribes) and the executors (which write back).
exec spark-submit \
  --master "k8s://${k8s_api}" \
  --deploy-mode cluster \
  --name ngsi-bridge-job \
  --conf "spark.kubernetes.namespace=${spark_namespace}" \
  --conf "spark.kubernetes.container.image=${spark_image}" \
  --conf spark.kubernetes.authenticate.driver.serviceAccountName=spark \
  --conf spark.kubernetes.driver.label.ngsi-bridge/role=spark \
  --conf spark.kubernetes.executor.label.ngsi-bridge/role=spark \
  --conf "spark.executor.instances=${executors}" \
  --conf spark.kubernetes.driver.request.cores=500m \
  --conf spark.kubernetes.executor.request.cores=500m \
  --conf spark.driver.memory=1g \
  --conf spark.executor.memory=1g \
  --conf "spark.kubernetes.driverEnv.NGSI_BRIDGE_RECEIVER_GRPC=${receiver_grpc}" \
  --conf "spark.kubernetes.driverEnv.NGSI_BRIDGE_RECEIVER_LINES=${receiver_lines}" \
  --conf "spark.kubernetes.driverEnv.NGSI_BRIDGE_REPLIER_GRPC=${replier_grpc}" \
  --conf "spark.executorEnv.NGSI_BRIDGE_REPLIER_GRPC=${replier_grpc}" \
  "$job" "$@"
