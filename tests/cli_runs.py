"""`padzero ARGV` run in-process, as the command-line tests run it."""

from padzero_study import cli


def run_cli(argv, capsys):
    """Runs `padzero ARGV` in-process; returns (exit code, stdout, stderr)."""
    try:
        code = cli.main(argv)
    except SystemExit as exit:  # argparse's own exits (usage errors, --help, --version)
        code = exit.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def assert_one_line_error(code, err, fragment, out_dir=None):
    assert code == 2
    if out_dir is not None:
        assert not (out_dir / "config.json").exists() and not (out_dir / "results.jsonl").exists()
    lines = [line for line in err.splitlines() if line.strip() and "padzero: error" in line]
    assert len(lines) == 1, err
    assert fragment in lines[0], err
    assert "Traceback" not in err
