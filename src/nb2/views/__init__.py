"""What a person sees, from plain data: HTML cards, histories, plans and grids (html.py), the
contact sheet and the self-contained report (report.py). Every user string is escaped. Imports
no engine: it reads the attributes it is given (see types.py)."""
