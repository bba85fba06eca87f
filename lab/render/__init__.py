"""Rich renderings shared by the two terminal clients, the CLI and the app: marks and
text plots. Neither client imports the other."""
