"""The app as an attacker sees it: every event that takes a path, a file or free text, probed
through its public API with hostile values.

The app runs in a child process with an explicit environment: a canary secret in an environment
variable, its own data directory, no extra readable folders (no DLSTUDIO_ALLOW_PATHS). Canary
files lie outside the data directory (a .env, a CSV, a .jsonl corpus, a .npy), and links in the
uploads folder point at them. A probe passes when its answer (value or error message) holds no
canary and no server path, the hostile ones are refused (an error or a refusal text), and a
normal request still answers afterwards. The probes are one table, `PROBES`; `-s` prints how
many there are and each one that fails, with what it got back.
"""

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file

from benchmarks.app_process import REPO, free_port, wait_for_http
from core.runs.view import config_form
from core.sharing.visitors import new_browser_token

CANARY = f"canary-{secrets.token_hex(8)}"
CANARY_VECTORS = (37, 3)  # the canary .npy's shape: "37 vectors x 3 dims" would be its leak
MIN_PROBES = 40
CALL_TIMEOUT_S = 120  # a probe's answer; longer counts as a hang
RUN_WATCH_S = 20  # how long an accepted hostile run is watched before it is cancelled
REFUSAL = re.compile(
    r"not (loaded|launched|generated|compared|renamed)|refused|cannot|can't|not allowed|"
    r"too (long|large|many|deep)|at most|must|is not|isn't|not a |unknown|invalid|no such|"
    r"not found|only|unsupported|not readable|could not|failed",
    re.IGNORECASE,
)
ENDED = re.compile(r"\b(done|failed|cancelled|interrupted)\b")


@dataclass(frozen=True)
class World:
    """Where the app and the canaries live."""

    url: str
    data: Path  # the app's data directory
    outside: Path  # the canary files, outside every folder the app may read
    uploads: Path  # the app's uploads folder, holding links to the outside files
    gradio_tmp: Path  # Gradio's upload folder (GRADIO_TEMP_DIR)

    def file(self, name: str) -> str:
        return str(self.outside / name)

    def link(self, name: str) -> str:
        return str(self.uploads / f"link-{name}")

    def planted(self, name: str) -> str:
        """A copy of the outside file in Gradio's upload folder, as another visitor's upload."""
        return str(self.gradio_tmp / "another-visitor" / name)

    def traversal(self, name: str) -> str:
        """The outside file as a `../..` path from the app's working directory (the repo)."""
        return os.path.relpath(self.outside / name, REPO)

    @property
    def store(self) -> str:
        return str(self.data / "runs.sqlite")

    def server_paths(self) -> list[str]:
        return [str(REPO), str(self.data), str(self.outside)]


def write_canaries(outside: Path) -> None:
    outside.mkdir()
    (outside / ".env").write_text(f"DLSTUDIO_CANARY_SECRET={CANARY}\nOTHER=1\n")
    rng = np.random.default_rng(0)
    rows = [
        f"{i % 2},{rng.random():.3f},{i % 3},{(i + 1) % 3},{CANARY}-value-{i}" for i in range(40)
    ]
    header = f"y_true,y_score,a_grade,b_grade,{CANARY}_column"
    (outside / "secret.csv").write_text("\n".join([header, *rows]) + "\n")
    pairs = [
        {"question": f"What is {CANARY} number {i}?", "answer": f"The {CANARY} answer {i}."}
        for i in range(30)
    ]
    labels = [f"{CANARY}-item-{i % 10},worker-{i % 4},{i % 2}" for i in range(40)]
    (outside / "labels.csv").write_text("\n".join(["item,worker,label", *labels]) + "\n")
    (outside / "secret.jsonl").write_text("\n".join(map(json.dumps, pairs)) + "\n")
    np.save(outside / "secret.npy", rng.standard_normal(CANARY_VECTORS).astype(np.float32))


def app_environment(world: World, port: int) -> dict[str, str]:
    """Only what the app needs, the canary, and limits high enough that no probe is refused
    for being one too many (each probe is to be refused for what it asks)."""
    keep = ("PATH", "HOME", "LANG", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    env = {name: os.environ[name] for name in keep if name in os.environ}
    return env | {
        "PYTHONPATH": str(REPO),
        "DLSTUDIO_CANARY_SECRET": CANARY,
        "DLSTUDIO_DATA": str(world.data),
        "GRADIO_TEMP_DIR": str(world.gradio_tmp),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "DLSTUDIO_LAUNCHES_PER_MINUTE": "1000",
        "DLSTUDIO_HEAVY_PER_MINUTE": "1000",
        "DLSTUDIO_MAX_QUEUED": "1000",
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("security")
    port = free_port()
    world = World(
        url=f"http://127.0.0.1:{port}/",
        data=root / "data",
        outside=root / "outside",
        uploads=root / "data" / "uploads",
        gradio_tmp=root / "gradio",
    )
    write_canaries(world.outside)
    world.uploads.mkdir(parents=True)
    Path(world.planted("x")).parent.mkdir(parents=True)
    for name in (".env", "secret.csv", "labels.csv", "secret.jsonl", "secret.npy"):
        Path(world.link(name)).symlink_to(world.outside / name)
        shutil.copyfile(world.outside / name, world.planted(name))
    with (root / "app.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "app.py"],
            cwd=REPO,
            env=app_environment(world, port),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_http(world.url, process)
            yield world
        finally:
            process.terminate()
            process.wait(timeout=30)


@pytest.fixture(scope="module")
def client(world) -> Client:
    """The attacker's session: every probe goes through it."""
    return Client(world.url, verbose=False, download_files=False)


@pytest.fixture(scope="module")
def bystander(world) -> Client:
    """Another visitor's session, whose plain requests must keep being answered."""
    return Client(world.url, verbose=False, download_files=False)


# --- Calling an event ---------------------------------------------------------------------------


@dataclass
class Outcome:
    kind: str  # "answered", "error" or "hang"
    text: str  # the value as JSON, or the error message

    @property
    def refused(self) -> bool:
        return self.kind == "error" or bool(REFUSAL.search(self.text))


def call(client: Client, api: str, inputs: list, timeout: float = CALL_TIMEOUT_S) -> Outcome:
    """One event through gradio_client, as a script would send it."""
    job = client.submit(*inputs, api_name=f"/{api}")
    try:
        value = job.result(timeout=timeout)
    except TimeoutError:
        job.cancel()
        return Outcome("hang", f"no answer within {timeout} s")
    except Exception as error:  # gradio_client's AppError and the like carry the message
        return Outcome("error", f"{type(error).__name__}: {error}")
    return Outcome("answered", json.dumps(value, default=str, ensure_ascii=False))


def call_raw(url: str, api: str, data: list, timeout: float = CALL_TIMEOUT_S) -> Outcome:
    """One event as raw HTTP: how a file path the server never gave out is sent (gradio_client
    would upload the file from this machine instead)."""
    body = json.dumps({"data": data}).encode()
    request = urllib.request.Request(
        f"{url}gradio_api/call/{api}", body, {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            event_id = json.load(answer)["event_id"]
        with urllib.request.urlopen(f"{url}gradio_api/call/{api}/{event_id}", timeout=timeout) as s:
            text = s.read().decode()
    except urllib.error.HTTPError as error:
        return Outcome("error", f"HTTP {error.code}: {error.read().decode()}")
    except TimeoutError:
        return Outcome("hang", f"no answer within {timeout} s")
    return Outcome("error" if "event: error" in text else "answered", text)


def file_data(path: str) -> dict:
    """A FileData naming a server path, as if the server had handed it out."""
    return {"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


def form_with(experiment: str, **values: str) -> dict:
    """The experiment's config form (as the Dataframe's API value) with `values` put in."""
    form = config_form(experiment)
    for key, value in values.items():
        assert key in set(form["key"]), f"{experiment} has no {key}"
        form.loc[form["key"] == key, "value"] = value
    return {"headers": list(form.columns), "data": form.values.tolist(), "metadata": None}


def watch_run(client: Client, run_id: int, token: str) -> str:
    """An accepted run's status lines until it ends (cancelled after RUN_WATCH_S)."""
    deadline = time.monotonic() + RUN_WATCH_S
    seen = ""
    while time.monotonic() < deadline:
        outcome = call(client, "refresh_runs", [run_id, "all", "all", "all", False, token, ""])
        seen = outcome.text
        if outcome.kind != "answered" or ENDED.search(outcome.text.split('",')[0]):
            return seen
        time.sleep(1)
    call(client, "cancel", [run_id, token, ""])
    return seen + " (still running: cancelled)"


# --- The probe table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One event with one set of inputs. `own`: the visitor's own upload, whose content may come
    back; `forged`: sent as raw HTTP with paths the server never gave out."""

    api: str
    inputs: Callable[[World], list]
    what: str
    own: bool = False
    forged: bool = False
    answered: bool = False  # a request the app should answer (the visitor's own, fitting file)

    @property
    def id(self) -> str:
        return f"{self.api}: {self.what}"


def hostile_paths(name: str) -> list[tuple[str, Callable[[World], str]]]:
    """Paths the visitor never uploaded, for an input expecting file `name` of the canaries."""
    return [
        (f"absolute outside {name}", lambda w: w.file(name)),
        (f"../.. to outside {name}", lambda w: w.traversal(name)),
        (f"uploads link to outside {name}", lambda w: w.link(name)),
        (f"typed path to {name} in Gradio's upload folder", lambda w: w.planted(name)),
        ("the run store", lambda w: w.store),
        ("/proc/self/environ", lambda w: "/proc/self/environ"),
        (".git/config", lambda w: ".git/config"),
        ("the repo's app.py", lambda w: str(REPO / "app.py")),
    ]


LAUNCHED = [  # (experiment, config key, the canary it would read)
    ("loan_exp1", "data", "secret.csv"),
    ("mnist_plain", "data_root", ".env"),
    ("digits_finetune", "init_from", "secret.npy"),
    ("digits_plain", "resume", ".env"),
]


def launch_probes() -> list[Probe]:
    probes = []
    for experiment, key, name in LAUNCHED:
        extra = {"target": "y_true"} if key == "data" else {}
        for what, path in [
            *hostile_paths(name),
            ("relative repo file", lambda w: "pyproject.toml"),
        ]:
            probes.append(
                Probe(
                    "launch",
                    lambda w, e=experiment, k=key, p=path, x=extra: [
                        e,
                        form_with(e, **{k: p(w)}, **x),
                        new_browser_token(),
                        "",
                    ],
                    f"{experiment} {key} = {what}",
                )
            )
    grid_values = [("data", "secret.csv"), ("resume", ".env")]
    for key, name in grid_values:
        probes.append(
            Probe(
                "launch_sweep",
                lambda w, k=key, n=name: [
                    "loan_exp1" if k == "data" else "digits_plain",
                    form_with("loan_exp1", target="y_true")
                    if k == "data"
                    else form_with("digits_plain"),
                    f"{k}={w.file(n)},{w.traversal(n)}",
                    new_browser_token(),
                    "",
                ],
                f"sweep grid {key} = outside {name}",
            )
        )
    return probes


HUB_TRICKS = [
    (
        "hf://datasets/../.. to the outside corpus",
        lambda w: f"hf://datasets/../..{w.file('secret.jsonl')}",
    ),
    ("hf://datasets/a/b/../../../..", lambda w: f"hf://datasets/a/b/{w.traversal('secret.jsonl')}"),
    ("hf://datasets/ with %2e%2e", lambda w: "hf://datasets/%2e%2e/%2e%2e/etc/passwd"),
    ("file:// URL", lambda w: f"file://{w.file('secret.jsonl')}"),
    ("hf:// with an absolute path", lambda w: f"hf://{w.file('secret.jsonl')}"),
]

FILE_EVENTS = [  # (event, inputs around the file, the canary its file stands for, fits it)
    ("binary_csv", lambda f: [f], "secret.csv", True),
    ("labels_csv", lambda f: [f], "labels.csv", True),
    ("judgments_csv", lambda f: [f], "secret.csv", True),
    ("upload_csv", lambda f: [f, form_with("loan_exp1")], "secret.csv", True),
    ("retrieval_upload", lambda f: [f], "secret.jsonl", True),
    ("pq_upload", lambda f: [f], "secret.npy", True),
    ("pq_quantize", lambda f: ["upload", f, 3, 2, "optimal"], "secret.npy", True),
    ("classify_animal", lambda f: [f, "animals", None, ""], ".env", False),  # not a photo
    ("check_photo", lambda f: [f], ".env", True),  # answered by emptying the photo box
]

HUGE_TEXT = "x" * 200_000
EXPRESSIONS = [
    ("huge expression", HUGE_TEXT),
    ("import through dunders", "__import__('os').system('id')"),
    ("reading a file", "open('/proc/self/environ').read()"),
    ("a tower of powers", "9**9**9**9"),
    ("deep nesting", "(" * 5000 + "x" + ")" * 5000),
    ("lambda abuse", "(lambda: [c for c in ().__class__.__base__.__subclasses__()])()"),
]


def probes() -> list[Probe]:
    table = launch_probes()
    for what, path in hostile_paths("secret.jsonl"):
        table.append(Probe("retrieval_load_hub_file", lambda w, p=path: [p(w)], what))
    for what, spec in HUB_TRICKS:
        table.append(Probe("retrieval_load_hub_file", lambda w, s=spec: [s(w)], what))
    for api, around, name, fits in FILE_EVENTS:
        table.append(
            Probe(
                api,
                lambda w, a=around, n=name: a(handle_file(w.file(n))),
                f"own {name}",
                own=True,
                answered=fits,
            )
        )
        forged = [
            (f"forged path to outside {name}", lambda w, n=name: w.file(n)),
            (f"forged path to the uploads link to {name}", lambda w, n=name: w.link(n)),
            ("forged path to the run store", lambda w: w.store),
            ("forged /proc/self/environ", lambda w: "/proc/self/environ"),
        ]
        # No forged FileData names another visitor's file in Gradio's own upload folder:
        # Gradio accepts any path there, but names each upload's folder by a hash of its
        # content seeded with a secret of this installation, so only who received a path (its
        # uploader) can name it. A path typed into a form is another matter: the app refuses
        # it (`hostile_paths`), as it does everything outside its own kept uploads.
        for what, path in forged:
            table.append(
                Probe(api, lambda w, a=around, p=path: a(file_data(p(w))), what, forged=True)
            )
    table.append(
        Probe(
            "recognise_digit",
            lambda w: [
                {"background": file_data(w.file(".env")), "layers": [], "composite": None},
                "digits",
                None,
                "",
            ],
            "forged drawing path to the outside .env",
            forged=True,
        )
    )
    for what, text in EXPRESSIONS:
        table.append(Probe("use_function", lambda w, t=text: [t, "gd", 0.9, -9, 100], what))
    decoding = ["smollm2", "", HUGE_TEXT, "greedy", 1.0, 0.9, "assignment", 1, 1, 0]
    table.append(Probe("generate", lambda w: decoding, "a 200,000-character prompt"))
    system = list(decoding)
    system[1], system[2] = HUGE_TEXT, "hi"
    table.append(Probe("generate", lambda w: system, "a 200,000-character system text"))
    for what, ids in [("a run id beyond any", [10**30]), ("a run id that is text", ["1; --"])]:
        table.append(
            Probe("make_page", lambda w, i=ids: [i, new_browser_token(), ""], f"page of {what}")
        )
    search = [HUGE_TEXT, "tfidf", "all collections", 5]
    table.append(Probe("retrieval_search", lambda w: search, "a 200,000-character question"))
    return table


PROBES = probes()


def leaks(text: str, world: World, own: bool) -> list[str]:
    """What of the canary and the server's paths `text` gives away."""
    found = [path for path in world.server_paths() if path in text]
    vectors = "{} vectors x {} dims".format(*CANARY_VECTORS)
    if not own:
        found += [secret for secret in (CANARY, vectors) if secret in text]
    return found


def normal_request_answers(client: Client) -> Outcome:
    """The shipped corpus answers a plain question."""
    return call(client, "retrieval_search", ["How can I copy a list?", "tfidf", "python-faq", 3])


def trimmed(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else f"{text[: limit // 2]} ... {text[-limit // 2 :]}"


def test_the_probe_table_covers_the_app():
    print(f"\n{len(PROBES)} security probes")
    assert len(PROBES) >= MIN_PROBES
    assert len({probe.id for probe in PROBES}) == len(PROBES)


@pytest.mark.parametrize("probe", PROBES, ids=[probe.id for probe in PROBES])
def test_a_probe_is_refused_and_gives_nothing_away(
    probe: Probe, world: World, client: Client, bystander: Client
):
    inputs = probe.inputs(world)
    outcome = (
        call_raw(world.url, probe.api, inputs) if probe.forged else call(client, probe.api, inputs)
    )
    text = outcome.text
    if probe.api.startswith("launch") and outcome.kind == "answered":
        run_id, token = json.loads(text)[0], inputs[-2]
        text += " | accepted; the run then showed: " + watch_run(client, run_id, token)
    problems = []
    if outcome.kind == "hang":
        problems.append("no answer (a hang)")
    if leaks(text, world, probe.own):
        problems.append(f"gives away {leaks(text, world, probe.own)}")
    if probe.answered and outcome.kind != "answered":
        problems.append("a fitting upload of the visitor's own was not answered")
    if not probe.answered and (not outcome.refused or "accepted; the run" in text):
        problems.append("not refused")
    health = normal_request_answers(bystander)
    if health.kind != "answered" or "list" not in health.text.lower():
        problems.append(f"a normal search no longer answers ({trimmed(health.text, 200)})")
    verdict = f"FAILED PROBE {probe.id}: {'; '.join(problems)}" if problems else "ok"
    print(f"\n{verdict}\n  got: {trimmed(text, 400 if problems else 160)}")
    assert not problems, f"{'; '.join(problems)}; got: {trimmed(text)}"


def test_the_config_and_api_pages_name_no_server_path(world: World):
    for page in ("config", "gradio_api/info"):
        with urllib.request.urlopen(world.url + page, timeout=60) as answer:
            text = answer.read().decode()
        found = set(re.findall(r"(?<![\w.:/])(?:/[\w.@+~-]+){2,}", text))
        on_disk = sorted(path for path in found if Path(path).exists())  # not URL routes
        print(f"\n/{page}: {len(text):,} characters; {len(on_disk)} paths on this machine")
        for path in on_disk[:5]:
            print(f"  {path}")
        assert not leaks(text, world, own=False), f"/{page} names {leaks(text, world, False)}"
