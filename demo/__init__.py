"""The demo city (`manage.py load_demo`): one street of communities, grids, branches,
volunteers and residents, and past orders driven through the real lifecycle services. It
sits at the top of the house plan because it uses every app."""
