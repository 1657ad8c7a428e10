"""The web chat's templates and static files, shipped inside the package as `qa.web.assets`."""
