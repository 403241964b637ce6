"""How the CLI fails: one plain-words line on stderr and exit code 1, never a traceback for
something the user can fix (a file, a key, a URL, an amount, a refusal, a node that is down).

:func:`guarded` wraps every command body; the node's refusals are worded here from their
stable codes (a protocol refusal already carries its plain words from the node).
"""

from __future__ import annotations

import functools
import gzip
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import httpx
import typer
from rich.console import Console
from rich.markup import escape

from astera.client import ApiError
from astera.human import AmountError

P = ParamSpec("P")
T = TypeVar("T")

err_console = Console(stderr=True, highlight=False)


class CliError(Exception):
    """A user error with its message (what is wrong and what to do)."""


def no_node(url: str) -> str:
    return (
        f"no node answers at {url}: start one with `make run` or `astera serve` "
        "(or point --node / ASTERA_NODE at a running node)"
    )


def api_error_text(e: ApiError) -> str:
    """A node refusal in plain words, saying so when a follower forwarded it from its leader."""
    err = e.body.get("error", {}) if isinstance(e.body, dict) else {}
    text = error_text(e.code, err, str(e))
    leader = err.get("forwarded_to")
    return f"{text} (the answer of the leader {leader}, forwarded by this node)" if leader else text


def error_text(code: str, err: dict[str, Any], default: str = "") -> str:
    """The node's error object (``{"code", "message", ...}``, as ``POST /txs`` and each result
    of ``POST /simulate`` carry it) in plain words; ``default`` if it has no message."""
    message = str(err.get("message", default))
    if code == "refused":
        return f"refused: {message}"
    if code == "bad_nonce":
        expected = err.get("expected")
        return f"another transaction from this key went first (expected nonce {expected}): run it again"
    if code == "unauthorized":
        role = err.get("role")
        return f"refused: {message}; sign with that role's key, e.g. --key astera-data/keys/{role}.key"
    if code in ("faucet_limit", "rate_limited"):  # already plain words, in whole tokens
        return message
    if code == "faucet_disabled":
        if err.get("leader"):
            return f"this node follows {err['leader']} and has no faucet: use --node {err['leader']}"
        return "this node has no faucet (it is not a test network)"
    return f"{code}: {message}"


def guarded(fn: Callable[P, T]) -> Callable[P, T]:
    """Run a command body; user errors become one line on stderr and exit code 1."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return fn(*args, **kwargs)
        except (CliError, AmountError) as e:
            message = str(e)
        except ApiError as e:
            message = api_error_text(e)
        except httpx.UnsupportedProtocol as e:
            message = f"bad node URL ({e}): write it with its scheme, e.g. http://127.0.0.1:8000"
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            message = no_node(str(e.request.url.copy_with(path="/")).rstrip("/"))
        except httpx.HTTPError as e:
            message = f"the node did not answer properly: {e}"
        except json.JSONDecodeError as e:
            message = f"not valid JSON: {e}"
        except FileNotFoundError as e:
            message = f"no such file: {e.filename or e}"
        except IsADirectoryError as e:
            message = f"{e.filename} is a directory, not a file"
        except OSError as e:
            message = f"{e.filename or 'file'}: {e.strerror or e}"
        except KeyboardInterrupt:
            message = "interrupted"
        # The message is text, not markup ("[sweep]" stays); one line for a pipe, wrapped at words
        # on a terminal.
        err_console.print(
            f"[red]error:[/] {escape(message)}" if message else "[red]error[/]",
            soft_wrap=not err_console.is_terminal,
        )
        raise typer.Exit(1)

    return wrapper


def load_json_file(path: Path) -> Any:
    """A JSON document (``.gz`` too) from a file, or a :class:`CliError` naming the problem."""
    from astera.scenario import load_json

    if not path.exists():
        raise CliError(f"no such file: {path}")
    if path.is_dir():
        raise CliError(f"{path} is a directory, not a file")
    try:
        return load_json(path)
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError):
        raise CliError(f"{path} is not a JSON text file") from None
    except json.JSONDecodeError as e:
        raise CliError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None


@contextmanager
def scenario_errors(path: Path) -> Iterator[None]:
    """Turn a malformed scenario (valid JSON, wrong shape) into a :class:`CliError`."""
    from astera.core import ProtocolError
    from astera.scenario import SCENARIO_FORMAT, ScenarioError
    from astera.scenario.reader import ScenarioFormatError

    try:
        yield
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError):  # a scenario streamed from its file
        raise CliError(f"{path} is not a JSON text file") from None
    except ScenarioFormatError as e:
        raise CliError(f"{path} is not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    except ScenarioError as e:
        raise CliError(f"{path}: {e}") from None
    except ProtocolError as e:
        raise CliError(f"{path}: the protocol refuses the scenario's deployment: {e}") from None
    except KeyError as e:
        raise CliError(f"{path}: not a valid {SCENARIO_FORMAT} document (missing {e})") from None
    except (TypeError, ValueError, AttributeError) as e:
        raise CliError(f"{path}: not a valid {SCENARIO_FORMAT} document ({e})") from None
