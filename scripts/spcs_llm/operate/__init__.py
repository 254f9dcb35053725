"""Operating a deployed service: manage (suspend, resume, scale, auto-suspend, upgrade), teardown in
dependency order, and cost from the account usage views. SQL comes from render/templates/operate/."""
