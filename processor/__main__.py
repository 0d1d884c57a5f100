from processor.tools.cli import main

main()
