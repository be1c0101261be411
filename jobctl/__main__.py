"""`python -m jobctl` runs the CLI."""

from jobctl.cli import main

if __name__ == "__main__":
    main()
