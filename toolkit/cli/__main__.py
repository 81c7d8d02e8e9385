"""``python -m toolkit.cli`` runs tenantctl."""

from toolkit.cli.app import main

main()
