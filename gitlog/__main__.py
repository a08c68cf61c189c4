from gitlog.cli import main

main()
