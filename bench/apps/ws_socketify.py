"""bench/ws.sh on socketify (uWebSockets through cffi), its own API (not
ASGI): the fastest way it offers. GET /ws echoes every message with its
opcode; no compression.

  python ws_socketify.py PORT
"""
import sys

from socketify import App, CompressOptions, OpCode

port = int(sys.argv[1])
app = App()
app.ws("/ws", {
    "compression": CompressOptions.DISABLED,
    "max_payload_length": 16 * 1024 * 1024,
    "idle_timeout": 120,
    "message": lambda ws, message, opcode: ws.send(message, OpCode(opcode)),
})
app.listen(port, lambda config: print(f"listening on port {config.port}", flush=True))
app.run()
