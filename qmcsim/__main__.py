from qmcsim.cli import entry

entry()
