"""Produce real Label Studio exports for the label-studio importer's tests (not run by tests).

Starts a local Label Studio server (installed in its own venv, never prefline's) on 127.0.0.1
with a throw-away data folder, creates three annotators, and through the REST API:

1. creates a project with the "Human Preference collection for RLHF" template config
   (generative-ai/human-feedback-collection) and one with the "Pairwise classification"
   template config (ranking-and-scoring/pairwise-classification), both read from the installed
   package's annotation_templates folder as shipped;
2. imports PandaLM test-set pairs (WeOpenML/PandaLM data/testset-v1.json, Apache-2.0) as tasks;
3. posts each PandaLM human vote as the annotation of one Label Studio user (PandaLM's
   annotator1..3 are users 1..3): 1 selects the left (first) answer, 2 the right one, and a
   PandaLM tie (0) is a skip (`was_cancelled`), since the Pairwise control has no tie. On the
   pairwise project half the tasks show the two responses in swapped order, and one annotator
   submits an empty annotation;
4. downloads each project's export through the export API as JSON, JSON_MIN and CSV.

Usage (Label Studio in a bench-only venv outside the repository):

    python3.11 -m venv /tmp/lsenv && /tmp/lsenv/bin/pip install label-studio
    /tmp/lsenv/bin/python bench/label_studio_exports.py --out tests/data/importers/label-studio

The annotation result items are posted in the shape the Label Studio editor writes for a
Pairwise control (`{"type": "pairwise", "from_name": ..., "to_name": ..., "value":
{"selected": "left"|"right"}, "origin": "manual"}`); everything in the exported files is
written by the server's own exporters.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

PANDALM = Path("/work/shared/data/pandalm/testset-v1.json")
ANNOTATORS = ("annotator1@prefline.test", "annotator2@prefline.test", "annotator3@prefline.test")
PASSWORD = "prefline-bench-" + "x" * 8
TEMPLATES = {
    "rlhf": "generative-ai/human-feedback-collection/config.yml",
    "pairwise": "ranking-and-scoring/pairwise-classification/config.yml",
}
EXPORT_TYPES = {"JSON": "json", "JSON_MIN": "json", "CSV": "csv"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def label_studio_package() -> Path:
    out = subprocess.run([sys.executable, "-c", "import label_studio, os; print(os.path.dirname(label_studio.__file__))"],
                         check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def template_config(package: Path, rel: str) -> str:
    import yaml

    return yaml.safe_load((package / "annotation_templates" / rel).read_text())["config"]


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body=None, raw: bool = False):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", f"Token {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None
        return payload if raw else json.loads(payload or b"null")


def wait_up(base: str, proc: subprocess.Popen, seconds: int = 600) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"label-studio exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=5) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(3)
    raise SystemExit("label-studio did not come up")


def make_users(env: dict) -> dict[str, str]:
    """The three annotators (the first is the server's own user) in the one organization, with API
    tokens, through Label Studio's Django models. Returns email -> token."""
    code = f"""
import json, django
django.setup()
from organizations.models import Organization
from users.models import User
from rest_framework.authtoken.models import Token
org = Organization.objects.first()
org.jwt.legacy_api_tokens_enabled = True  # the API tokens below are the legacy kind
org.jwt.save()
out = {{}}
for email in {list(ANNOTATORS)!r}:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, username=email, password={PASSWORD!r})
    if not org.has_user(user):
        org.add_user(user)
    user.active_organization = org
    user.save()
    out[email] = Token.objects.get_or_create(user=user)[0].key
print(json.dumps(out))
"""
    package = label_studio_package()
    out = subprocess.run([sys.executable, "-c", code], env=dict(env, DJANGO_SETTINGS_MODULE="core.settings.label_studio",
                                                                   PYTHONPATH=str(package)),
                         check=True, capture_output=True, text=True, cwd=package)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pandalm_items() -> tuple[list[dict], list[dict]]:
    """Short PandaLM pairs, each prompt once: for the RLHF project six with three votes (two
    split 2-1, one with a tie vote), for the pairwise project four whose first two annotators agree."""
    items = json.loads(PANDALM.read_text())
    seen, short = set(), []
    for it in items:
        prompt = it["instruction"] + (f"\n\n{it['input']}" if it["input"] else "")
        if it["instruction"] in seen or len(prompt) > 500 or not all(isinstance(it[k], str) and 20 <= len(it[k]) <= 500
                                                                      for k in ("response1", "response2")):
            continue
        seen.add(it["instruction"])
        short.append(dict(it, prompt=prompt))
    votes = lambda it: (it["annotator1"], it["annotator2"], it["annotator3"])  # noqa: E731
    split = [it for it in short if len(set(votes(it))) == 2 and 0 not in votes(it)][:2]
    tie = [it for it in short if 0 in votes(it) and sorted(votes(it))[1:] in ([1, 1], [2, 2])][:1]
    unanimous = [it for it in short if len(set(votes(it))) == 1 and 0 not in votes(it)]
    rlhf = split + tie + unanimous[:3]
    used = {it["idx"] for it in rlhf}
    pairwise = [it for it in unanimous if it["idx"] not in used][:4]
    return rlhf, pairwise


def pairwise_result(from_name: str, to_name: str, selected: str) -> list[dict]:
    return [{"value": {"selected": selected}, "id": secrets.token_urlsafe(8)[:10], "from_name": from_name,
             "to_name": to_name, "type": "pairwise", "origin": "manual"}]


def build(api: Api, tokens: dict[str, str], package: Path, out: Path, base: str) -> None:
    rlhf_items, pairwise_items = pandalm_items()
    projects = {
        "rlhf": api.call("POST", "/api/projects", {"title": "RLHF human preference (PandaLM pairs)",
                                                    "label_config": template_config(package, TEMPLATES["rlhf"])}),
        "pairwise": api.call("POST", "/api/projects", {"title": "Pairwise classification (PandaLM pairs)",
                                                        "label_config": template_config(package, TEMPLATES["pairwise"])}),
    }
    tasks = {
        "rlhf": [{"data": {"prompt": it["prompt"], "answer1": it["response1"], "answer2": it["response2"]},
                  "meta": {"pandalm_idx": it["idx"]}} for it in rlhf_items],
        # The stock pairwise template shows pairText1 and pairText2; the prompt rides along as data.
        "pairwise": [{"data": {"prompt": it["prompt"],
                               "pairText1": it["response2" if i % 2 else "response1"],
                               "pairText2": it["response1" if i % 2 else "response2"]},
                      "meta": {"pandalm_idx": it["idx"], "swapped": bool(i % 2)}}
                     for i, it in enumerate(pairwise_items)],
    }
    names = {"rlhf": ("comparison", "comparison"), "pairwise": ("pw", "pw")}
    for key, project in projects.items():
        api.call("POST", f"/api/projects/{project['id']}/import", tasks[key])
        listed = api.call("GET", f"/api/tasks?project={project['id']}&page_size=100")
        listed = sorted(listed["tasks"] if isinstance(listed, dict) else listed, key=lambda t: t["id"])
        source = rlhf_items if key == "rlhf" else pairwise_items
        for i, (task, it) in enumerate(zip(listed, source, strict=True)):
            swapped = key == "pairwise" and i % 2 == 1
            voters = ANNOTATORS if key == "rlhf" else ANNOTATORS[:2]
            for n, email in enumerate(voters, start=1):
                vote = it[f"annotator{n}"]
                user = Api(base, tokens[email])
                if vote == 0:
                    body = {"result": [], "was_cancelled": True, "lead_time": 4.2}
                else:
                    first = vote == 1  # PandaLM: 1 prefers response1
                    side = "left" if first != swapped else "right"
                    body = {"result": pairwise_result(*names[key], side), "was_cancelled": False,
                            "lead_time": 6.0 + n}
                user.call("POST", f"/api/tasks/{task['id']}/annotations/", body)
            if key == "pairwise" and i == 0:  # the third annotator submits without choosing
                Api(base, tokens[ANNOTATORS[2]]).call("POST", f"/api/tasks/{task['id']}/annotations/",
                                                      {"result": [], "was_cancelled": False, "lead_time": 2.5})
        for export_type, suffix in EXPORT_TYPES.items():
            body = api.call("GET", f"/api/projects/{project['id']}/export?exportType={export_type}", raw=True)
            target = out / f"{key}-{export_type.lower().replace('_', '-')}.{suffix}"
            target.write_bytes(body)
            print(f"wrote {target} ({len(body)} bytes)")
    (out / "tasks.json").write_text(json.dumps(
        {key: [{"pandalm_idx": it["idx"], "votes": [it["annotator1"], it["annotator2"], it["annotator3"]]}
               for it in items] for key, items in (("rlhf", rlhf_items), ("pairwise", pairwise_items))}, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--keep", action="store_true", help="keep the server's data folder")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="lsdata-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    token = secrets.token_hex(20)
    env = dict(os.environ, LABEL_STUDIO_BASE_DATA_DIR=str(data_dir), LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
               LABEL_STUDIO_HOST=base)
    exe = Path(sys.executable).parent / "label-studio"
    log = open(data_dir / "server.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([str(exe), "start", "--no-browser", "--internal-host", "127.0.0.1", "--port", str(port),
                             "--username", ANNOTATORS[0], "--password", PASSWORD, "--user-token", token],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_up(base, proc)
        tokens = make_users(env)
        version = Api(base, token).call("GET", "/api/version")
        (args.out / "label-studio-version.json").write_text(json.dumps(
            {k: version.get(k) for k in ("release", "label-studio-os-package")}, indent=1, default=str))
        build(Api(base, token), tokens, label_studio_package(), args.out, base)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            print(f"server data kept in {data_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
