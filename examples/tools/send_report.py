#!/usr/bin/env python3
# Tool: send_report(to, subject, body) -> {"queued": path}. Needs approval:
# it "sends" by writing the message to outbox/ next to this config.
import json
import os
import sys
import time

a = json.load(sys.stdin)
os.makedirs("outbox", exist_ok=True)
path = os.path.join("outbox", time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}.txt")
with open(path, "w") as f:
    f.write(f"To: {a['to']}\nSubject: {a['subject']}\n\n{a['body']}\n")
json.dump({"queued": path}, sys.stdout)
