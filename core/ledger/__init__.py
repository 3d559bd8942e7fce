"""The time-credit ledger: accounts, postings, holds, passbook, totals and verification."""
