import json
import subprocess
import sys

import nbformat
import pytest

from slmlib import runner
from slmlib.hardware import machine


def _notebook(path, body):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile = "default"\noverrides = {}')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# toy"), params,
                nbformat.v4.new_code_cell("from slmlib.config import load_config\n"
                                          "cfg = load_config(profile, overrides)"),
                nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("SLMLIB_OUTPUTS", str(tmp_path / "outputs"))
    return tmp_path / "outputs"


def test_discover_orders_and_filters(tmp_path):
    for name in ("01_b", "00_a", "02_c"):
        (tmp_path / f"{name}.ipynb").write_text("{}")
    (tmp_path / "scratch.ipynb").write_text("{}")
    assert [p.stem for p in runner.discover(tmp_path)] == ["00_a", "01_b", "02_c"]
    assert [p.stem for p in runner.discover(tmp_path, ["02", "00"])] == ["00_a", "02_c"]
    with pytest.raises(ValueError, match="available"):
        runner.discover(tmp_path, ["07"])


def test_notebooks_run_in_order_with_profile_and_overrides(tmp_path, outputs):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "00_first.ipynb", "assert cfg.profile == 'smoke' and cfg.seed == 5")
    _notebook(nbs / "01_second.ipynb", "print(cfg.world.n_real_speakers)")
    results = runner.run_notebooks("smoke", {"seed": "5"}, notebooks_dir=nbs, progress=False)
    assert [r.notebook for r in results] == ["00_first", "01_second"]
    executed = nbformat.read(results[1].output, as_version=4)
    assert "4" in executed.cells[-1].outputs[0]["text"]
    log = json.loads((outputs / "smoke" / "run_log.json").read_text())
    assert [e["notebook"] for e in log] == ["00_first", "01_second"]
    assert all(e["machine"] == machine() and e["finished"].endswith("UTC") for e in log)
    runner.run_notebooks("smoke", {"seed": "5"}, only=["01"], notebooks_dir=nbs, progress=False)
    again = json.loads((outputs / "smoke" / "run_log.json").read_text())
    assert again[0] == log[0] and [e["notebook"] for e in again] == ["00_first", "01_second"]


def test_first_failure_stops_the_run_and_names_notebook_and_cell(tmp_path, outputs):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _notebook(nbs / "00_ok.ipynb", "x = 1")
    _notebook(nbs / "01_bad.ipynb", "raise ValueError('broken on purpose')")
    _notebook(nbs / "02_never.ipynb", "x = 2")
    with pytest.raises(runner.NotebookFailed) as err:
        runner.run_notebooks("smoke", notebooks_dir=nbs, progress=False)
    assert err.value.notebook == "01_bad"
    assert "broken on purpose" in str(err.value) and "cell" in str(err.value)
    assert not (outputs / "smoke" / "notebooks" / "02_never.ipynb").exists()


def test_cli_rejects_an_unknown_profile_with_the_list():
    proc = subprocess.run([sys.executable, "-m", "slmlib", "run", "--profile", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "smoke, default, full, gpu" in proc.stderr


def test_publish_copies_small_results_only(outputs):
    from slmlib import paths
    from slmlib.runner import publish_reference

    src = paths.profile_dir("smoke")
    (src / "01_x").mkdir(parents=True)
    (src / "01_x" / "table.csv").write_text("a,b\n1,2\n")
    (src / "01_x" / "table.parquet").write_bytes(b"PAR1")
    (src / "01_x" / "big.png").write_bytes(b"0" * 2_000_000)
    (src / "01_x" / "clip.flac").write_bytes(b"fLaC")
    copied = publish_reference("smoke")
    names = sorted(p.name for p in copied)
    assert names == ["table.csv"]
    assert (paths.outputs_root() / "reference" / "smoke" / "01_x" / "table.csv").exists()


def test_publish_only_replaces_the_named_parts(outputs):
    from slmlib import paths
    from slmlib.runner import publish_reference

    src = paths.profile_dir("smoke")
    for folder in ("01_x", "report", "report/audio"):
        (src / folder).mkdir(parents=True, exist_ok=True)
    (src / "01_x" / "table.csv").write_text("new\n")
    (src / "report" / "report.html").write_text("<html></html>")
    (src / "report" / "audio" / "dgsa-sft.flac").write_bytes(b"fLaC")
    ref = paths.outputs_root() / "reference" / "smoke"
    (ref / "01_x").mkdir(parents=True)
    (ref / "01_x" / "table.csv").write_text("old\n")
    (ref / "report").mkdir()
    (ref / "report" / "stale.md").write_text("stale")
    copied = publish_reference("smoke", only=["report"])
    assert sorted(p.name for p in copied) == ["dgsa-sft.flac", "report.html"]
    assert (ref / "01_x" / "table.csv").read_text() == "old\n"     # not named: kept
    assert not (ref / "report" / "stale.md").exists()               # named: replaced whole
    with pytest.raises(FileNotFoundError, match="run the notebook"):
        publish_reference("smoke", only=["05_missing"])


def test_a_partial_publish_enters_its_notebooks_into_the_reference_run_log(outputs, capsys):
    from slmlib import paths
    from slmlib.runner import publish_reference

    src = paths.profile_dir("smoke")
    (src / "notebooks").mkdir(parents=True)
    (src / "notebooks" / "06_report.ipynb").write_text("{}")
    (src / "run_log.json").write_text(json.dumps([{"notebook": n, "seconds": 1.0, "machine": "here"}
                                                  for n in ("05_saslm", "06_report")]))
    ref = paths.outputs_root() / "reference" / "smoke"
    ref.mkdir(parents=True)
    (ref / "run_log.json").write_text(json.dumps([{"notebook": "00_world", "seconds": 9.0}]))
    publish_reference("smoke", only=["notebooks/06_report.ipynb"])
    log = json.loads((ref / "run_log.json").read_text())
    assert [(e["notebook"], e.get("machine")) for e in log] == [("00_world", None), ("06_report", "here")]
    assert "00_world: not recorded; 06_report: here" in capsys.readouterr().out
