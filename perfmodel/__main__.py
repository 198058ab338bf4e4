import gc

from perfmodel.cli import main

status = main()
# The interpreter's last collection, at exit, walks every object still alive (onnx's, numpy's and
# protobuf's modules: half of the exit's 0.1 s); frozen, they are left to the module teardown. Nothing
# the command leaves needs that collection: its files are closed and its temporary folders removed
# before it returns.
gc.freeze()
raise SystemExit(status)
