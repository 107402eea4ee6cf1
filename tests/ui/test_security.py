"""Security defaults, on a real `newscite serve`: loopback only, a login when configured,
upload size and type limits, uploads kept in temporary folders; and a source without
pickle, eval/exec or a shell."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from gradio_client import Client

from newscite.config import Config
from newscite.eval.serving import ROOT, served
from newscite.ui.app import MAX_UPLOAD, launch_options

PACKAGES = ("index", "rag", "ui", "eval")
FORBIDDEN = {
    "pickle": re.compile(r"^\s*(import|from)\s+(c?pickle|dill|joblib)\b|\bpickle\.", re.M),
    "eval/exec": re.compile(r"(?<![\w.])(eval|exec)\s*\("),
    "a shell": re.compile(r"shell\s*=\s*True|\bos\.(system|popen)\s*\("),
    "unsafe loading": re.compile(r"\btorch\.load\s*\(|\byaml\.load\s*\(|allow_pickle\s*=\s*True"),
}


def test_the_source_has_no_pickle_eval_or_shell():
    files = [path for package in PACKAGES for path in (ROOT / package).rglob("*.py")]
    assert len(files) > 30
    found = [f"{path.relative_to(ROOT)}:{text[:match.start()].count(chr(10)) + 1}: {what}"
             for path in files for text in [path.read_text()]
             for what, pattern in FORBIDDEN.items() for match in pattern.finditer(text)]
    assert found == []


def test_defaults_bind_to_loopback_with_limits():
    config = Config.load({}, environ={})
    options = launch_options(config, environ={})
    assert options["server_name"] == "127.0.0.1" and options["auth"] is None
    assert options["max_file_size"] == MAX_UPLOAD
    login = launch_options(config, environ={"NEWSCITE_USER": "ann", "NEWSCITE_PASSWORD": "pw"})
    assert login["auth"] == ("ann", "pw")


def _listening_addresses(port: int) -> set[str]:
    """Local addresses listening on TCP `port`, from /proc/net/tcp{,6} (hex, as the kernel
    writes them: 0100007F is 127.0.0.1, 00000000 is every IPv4 address)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.fixture(scope="module")
def server(news_index, tmp_path_factory):
    """`newscite serve` with its defaults over a copy of the fixture index; (url, folder)."""
    folder = tmp_path_factory.mktemp("security")
    (folder / "tmp").mkdir()
    with served(shutil.copytree(news_index, folder / "idx"), folder,
                TMPDIR=str(folder / "tmp")) as url:
        yield url, folder


def test_the_server_listens_on_loopback_only(server):
    url, _ = server
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    assert _listening_addresses(port) == {"0100007F"}


def _upload(url: str, name: str, data: bytes) -> tuple[int, str]:
    """POST one file to Gradio's upload route as a browser would; (status, body)."""
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{url}gradio_api/upload", data=body, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def _run_page_handler(url: str, name: str, data: list) -> list:
    """Run the page's handler `name` as the browser does (by its index on the queue, not by
    gradio_client, which refuses private handlers); its outputs."""
    with urllib.request.urlopen(f"{url}config", timeout=30) as response:
        handlers = json.load(response)["dependencies"]
    index = next(h["id"] for h in handlers if h.get("api_name") == name)
    session = uuid.uuid4().hex
    join = urllib.request.Request(f"{url}gradio_api/queue/join", headers={
        "Content-Type": "application/json"}, data=json.dumps(
        {"data": data, "fn_index": index, "session_hash": session}).encode())
    urllib.request.urlopen(join, timeout=30).close()
    with urllib.request.urlopen(f"{url}gradio_api/queue/data?session_hash={session}",
                                timeout=120) as events:
        for line in events:
            message = json.loads(line[5:]) if line.startswith(b"data:") else {}
            if message.get("msg") == "process_completed":
                return message["output"].get("data") or [message["output"].get("error")]
    raise AssertionError(f"the handler {name} did not complete")


def _uploaded(body: str, name: str) -> dict:
    """The page's value for a file that the upload route stored (its answer `body`)."""
    return {"path": json.loads(body)[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def test_an_upload_over_the_size_limit_is_refused(server):
    url, folder = server
    limit = int(MAX_UPLOAD.removesuffix("mb")) * 1024 * 1024
    status, body = _upload(url, "big.jsonl", b" " * (limit + 1024))
    assert status == 413 and "size" in body.lower(), (status, body)
    assert not [p for p in (folder / "gradio").rglob("big.jsonl")]


def test_uploads_stay_in_temporary_folders(server):
    """A name that climbs out with '..' lands inside Gradio's upload folder; once ingested,
    the private staging folder is gone, and nothing was written beside the server's
    folders."""
    url, folder = server
    record = b'{"title": "Escape test", "body": "A harmless article about a ferry.", ' \
             b'"url": "https://x.example/escape"}\n'
    status, body = _upload(url, "../../escaped.jsonl", record)
    assert status == 200, body
    gradio = (folder / "gradio").resolve()
    stored = Path(re.search(r'"([^"]+)"', body).group(1)).resolve()
    assert stored.is_relative_to(gradio) and stored.exists()
    assert all(path.resolve().is_relative_to(gradio) for path in folder.rglob("*escaped*"))
    report = _run_page_handler(url, "add_files", [[_uploaded(body, "escaped.jsonl")]])[0]
    assert "Added 1 new" in report
    assert not list((folder / "tmp").glob("newscite-upload-*")), "staging folder left behind"


def test_an_unsupported_file_type_is_refused_and_not_ingested(server):
    url, _ = server
    status, body = _upload(url, "tool.exe", b"MZ\x90\x00" + b"\x00" * 100)
    report = body if status != 200 else \
        str(_run_page_handler(url, "add_files", [[_uploaded(body, "tool.exe")]])[0])
    assert ("Invalid file type" in report or "unsupported file type" in report) and \
        "Added" not in report, report


def test_a_login_is_required_through_the_api_too(news_index, tmp_path):
    with served(news_index, tmp_path, NEWSCITE_USER="ann", NEWSCITE_PASSWORD="s3cret") as url:
        with pytest.raises(Exception, match="(?i)login|auth|401|403|credentials"):
            Client(url, verbose=False).predict("tram line cost", api_name="/ask")
        client = Client(url, auth=("ann", "s3cret"), verbose=False)
        result = client.predict("How much will the new tram line cost?", api_name="/ask")
        client.close()
        assert "Harbor Gazette" in {c["outlet"] for c in result["citations"]}
