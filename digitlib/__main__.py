import sys

from .cli import main

if __name__ == "__main__":  # not in the worker processes of ``read --workers``, which import this module again
    sys.exit(main())
