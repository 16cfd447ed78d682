from lkpolicy.cli import main

main()
