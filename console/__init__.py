"""The staff web console (监管工作台) at /console/: accounts, sessions and server-rendered pages in Chinese."""
