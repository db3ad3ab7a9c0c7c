"""Accounts for everyone: login, logout and (behind ACCOUNTS_SIGNUP) sign-up pages, built on
Django's auth views and styled like the site. The admin's own login refuses non-staff users."""
