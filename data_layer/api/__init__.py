"""The REST API of the source system's feedback endpoints, served beside the dashboard under /api.

A thin face over `data_layer`: each endpoint authenticates the caller from its bearer token and
passes that actor to the same store functions the pages use (on the process's one
`shared_store()`), which ask `auth.authorize` themselves before anything is looked up; only the
backup, a copy of the files rather than a store operation, is authorized in its route. What a caller
may know exists is the data layer's to say (`data_layer.targets`): every check of a thread, run or
message happens in `store.feedback`, after the role's own 403.

- `models.py`: what requests and responses look like (path parameters, bodies, response models,
  documented errors);
- `dependencies.py`: what a route takes from its request (caller, body, page) and the store;
- `routes.py`: the endpoints, each a call into the data layer;
- `app.py`: `create_api`, the app with its settings and its error answers.
"""

from data_layer.api.app import create_api

__all__ = ["create_api"]
