"""``python -m meshmigrate``."""

from meshmigrate.cli import main

main()
