from specialnets.cli import main

main()
