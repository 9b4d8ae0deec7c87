"""Reports: tables and exports of results."""
