"""`padzero` command line: thin argparse front ends over the study.

    padzero reproduce [--quick] [--data PATH | --dataset synthetic] [--shard K/N] [...]
    padzero diagnose [--variants ...] [--padding post] [--maxlen N] [...]
    padzero report DIR
    padzero bench [--quick] [--parts layer,model,bag] [--backends jax,tensorflow,torch] [--data PATH]

The arguments are `padzero_study.cli.parser`'s, the commands `padzero_study.cli.commands`'. This module runs one
and turns what can go wrong into one line and an exit code.
"""

import logging
import os
import sys

from padzero_study.cli.commands import FLAGS, bench, diagnose, report, reproduce
from padzero_study.cli.parser import build_parser
from padzero_study.files import describe_os_error, shown
from padzero_study.study.settings import StudyError

COMMANDS = {"reproduce": reproduce, "diagnose": diagnose, "report": report, "bench": bench}
# The two packages' loggers, whose INFO lines a command prints: every module logs under its own name
# (`getLogger(__name__)`), so the library's are below "padzero" and the study's below "padzero_study".
STUDY_LOGGERS = ("padzero", "padzero_study")
COMMANDS_WITHOUT_KERAS = ("report",)
# What a Ctrl-C leaves, by command.
INTERRUPTED = {
    "reproduce": "finished runs are kept, rerun the same command to resume",
    "diagnose": "finished runs are kept, rerun the same command to resume",
    "report": "rerun the same command to write the report (its files are replaced whole)",
    "bench": "nothing was written, rerun the same command to measure",
}
# The paths each command writes to, for an OSError that no check caught.
PATH_ARGUMENTS = {"reproduce": "--out", "diagnose": "--out", "report": "DIR", "bench": "--out"}


def os_error_message(error, args):
    """One line for an OSError that no check caught: `describe_os_error`'s words, then the argument naming the path."""
    path = shown(error.filename) if error.filename is not None else "a file"
    return f"{describe_os_error(path, error, writing=True).rstrip('.')} (check {PATH_ARGUMENTS[args.command]})"


def main(argv=None):
    """Runs `padzero ARGV`; returns the exit code (0, 2 for bad input, 130 when interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    # The study's own progress lines are INFO; every other library's INFO (jax's "Unable to initialize backend
    # 'tpu'", scikit-learn's download notes) stays out, and anyone's warnings stay in.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for own in STUDY_LOGGERS:
        logging.getLogger(own).setLevel(logging.INFO)
    if args.command not in COMMANDS_WITHOUT_KERAS:
        # TensorFlow's INFO lines (oneDNN, CPU features) would bury a one-line error; its warnings stay. A value
        # the user set wins. Each command chooses the backend before anything imports Keras.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
    try:
        COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"padzero: interrupted; {INTERRUPTED[args.command]}", file=sys.stderr)
        return 130
    except OSError as error:
        print(f"padzero: error: {os_error_message(error, args)}", file=sys.stderr)
        return 2
    except ValueError as error:  # a StudyError names the settings by their flags
        message = error.worded(FLAGS) if isinstance(error, StudyError) else str(error)
        print(f"padzero: error: {' '.join(message.split())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
