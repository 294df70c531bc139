from ilo_node.cli.app import main

main()
