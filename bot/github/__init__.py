"""GitHub only: the app's auth and installation tokens, its REST calls, one model per GitHub
object, and the GitHub forge."""
