"""``python -m toolkit.cli`` runs tenantctl."""

from toolkit.cli.entry import main

main()
