"""The `specialnets` command line (`specialnets.cli`); `python -m specialnets` runs it too."""
