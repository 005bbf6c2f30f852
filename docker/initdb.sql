-- A separate database for the test suite, so tests never touch the app's data.
CREATE DATABASE tma_test OWNER tma;
