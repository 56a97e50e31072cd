"""Generated protobuf and gRPC code of the Bashu Exchange API. Do not edit.

Regenerate with `python scripts/genproto.py` from proto/.
Generator: grpcio-tools 1.85.1.
"""
