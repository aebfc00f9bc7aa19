"""A gRPC client that knows the server only through reflection: grpcio, grpc_reflection, protobuf.

Run as ``python -I grpc_reflection_client.py ADDRESS`` with a JSON list of calls on stdin; prints one
JSON object per call. A call is ``{"health": true}`` (the standard health check), ``{"services":
true}`` (reflection's service list) or ``{"method": "pkg.Service/Method", "request": {...},
"metadata": {"mm-model-id": "den://x"}, "until": {"field": "state", "in": ["COMPLETED"]},
"timeout": 120}`` (``until`` repeats the call until the response field has one of the values).
Results are ``{"response": {...}}`` or ``{"code": "NOT_FOUND", "details": "..."}``. The last line
lists the top-level packages imported, so the test can check no caikit / medcat_den came in.
"""

import json
import sys
import time

import grpc
from google.protobuf import json_format, message_factory
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def call(channel: grpc.Channel, pool: DescriptorPool, spec: dict) -> dict:
    service_name, method_name = spec["method"].split("/")
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    stub = channel.unary_unary(f"/{service_name}/{method_name}",
                               request_serializer=request_cls.SerializeToString,
                               response_deserializer=response_cls.FromString)
    request = json_format.ParseDict(spec.get("request", {}), request_cls())
    metadata = tuple((spec.get("metadata") or {}).items())
    until = spec.get("until")
    deadline = time.monotonic() + float(spec.get("timeout", 60))
    while True:
        try:
            response = stub(request, metadata=metadata, timeout=float(spec.get("timeout", 60)))
        except grpc.RpcError as e:
            return {"code": e.code().name, "details": e.details()}
        body = json_format.MessageToDict(response, preserving_proto_field_name=True)
        if not until or body.get(until["field"]) in until["in"] or time.monotonic() > deadline:
            return {"response": body}
        time.sleep(0.2)


def main() -> None:
    address = sys.argv[1]
    calls = json.load(sys.stdin)
    with grpc.insecure_channel(address) as channel:
        grpc.channel_ready_future(channel).result(timeout=60)
        database = ProtoReflectionDescriptorDatabase(channel)
        pool = DescriptorPool(database)
        for spec in calls:
            if spec.get("health"):
                status = health_pb2_grpc.HealthStub(channel).Check(
                    health_pb2.HealthCheckRequest(), timeout=30).status
                out = {"response": {"status": health_pb2.HealthCheckResponse.ServingStatus.Name(
                    status)}}
            elif spec.get("services"):
                out = {"response": {"services": sorted(database.get_services())}}
            else:
                out = call(channel, pool, spec)
            print(json.dumps(out), flush=True)
    print(json.dumps({"imported": sorted({m.split(".")[0] for m in sys.modules})}), flush=True)


if __name__ == "__main__":
    main()
