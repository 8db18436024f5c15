"""A stand-in model for the example server (the agent only checks tool calls)."""


def respond(messages: list[dict[str, str]]) -> str:
    return "ok"
