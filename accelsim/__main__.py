from accelsim.cli import run

run()
