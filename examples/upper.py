#!/usr/bin/python3
# voidrail dealer --exec "python3 upper.py" --service Text serves Text.upper
import json, sys

upper = {"description": "upper-cases a text", "params": {"text": "a string"}}
print(json.dumps({"methods": {"upper": upper}}), flush=True)
for line in sys.stdin:
    req = json.loads(line)
    text = req["args"][0] if req["args"] else req["kwargs"]["text"]
    print(json.dumps({"id": req["id"], "result": text.upper()}), flush=True)
