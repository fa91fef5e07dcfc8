from expectations.cli import main

raise SystemExit(main())
