"""Local stand-ins for the chat platforms' servers, driven through the real client libraries."""
