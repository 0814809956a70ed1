# The official OpenAI SDK for Python pointed at the Tollgate gateway:
#   pip install openai
#   TOLLGATE_API_KEY=tg_live_... python client.py
import os

import openai
from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("TOLLGATE_URL", "http://127.0.0.1:8080") + "/gateway/openai/v1",
    api_key=os.environ["TOLLGATE_API_KEY"],
    max_retries=2,  # waits Retry-After on a rate limit; an exhausted quota is not retried
)

try:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        max_tokens=200,
        stream=True,
        messages=[{"role": "user", "content": "In one sentence: why reserve an LLM call's budget before making it?"}],
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            print(chunk.choices[0].delta.content, end="", flush=True)
    print()
except openai.RateLimitError as error:
    print(f"budget: {error.message}")
    raise SystemExit(2)
