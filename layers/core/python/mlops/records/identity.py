"""Caller identities decided the way IAM decides them, so separation of duty holds on AWS.

API Gateway's IAM authoriser names the signer of a request by its ARN. For an assumed role that ARN is
``arn:aws:sts::<account>:assumed-role/<Role>/<session>``, and the session name is the caller's choice: the same
role can start a run as session ``a`` and approve it as session ``b``. IAM grants permissions to the role, not to
the session, so the identity that counts is the role: ``arn:aws:iam::<account>:role/<Role>``.

One exception: IAM Identity Center (SSO) signs its users in to a role named ``AWSReservedSSO_<PermissionSet>_<id>``
whose session name is the user's own name, set by Identity Center, not by the user. There the session names the
person, so the identity stays the assumed-role ARN with its session: two users of one permission set are two
identities, and one user is one identity whatever role path they came through.

Every other ARN (an IAM user, a role, the account root, a federated user) is its own identity. A role ARN's path
(``role/path/Name``) is kept where it is known, but two ARNs name the same role when account and role name match
(role names are unique in an account, whatever their path): ``same_identity`` compares that way.
"""

from __future__ import annotations

import re

IDENTITY_CENTER_ROLE_PREFIX = "AWSReservedSSO_"
_ASSUMED_ROLE = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):sts::(?P<account>\d{12}):assumed-role/(?P<role>[^/]+)/(?P<session>.+)"
)
_IAM_ROLE = re.compile(r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/(?:(?P<path>.*)/)?(?P<role>[^/]+)")


def normalised_identity(arn: str) -> str:
    """The identity IAM grants to: an assumed role's role ARN (the session dropped), unless the role is an IAM
    Identity Center one, whose session name is the signed-in user's and stays. Anything else is returned as is."""
    assumed = _ASSUMED_ROLE.fullmatch(arn)
    if assumed is None or assumed["role"].startswith(IDENTITY_CENTER_ROLE_PREFIX):
        return arn
    return f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['role']}"


def identity_key(arn: str) -> str:
    """What two identities are compared by: the normalised identity, a role's path left out."""
    identity = normalised_identity(arn)
    role = _IAM_ROLE.fullmatch(identity)
    if role is None:
        return identity
    return f"arn:{role['partition']}:iam::{role['account']}:role/{role['role']}"


def same_identity(first: str, second: str) -> bool:
    return identity_key(first) == identity_key(second)


def role_of(arn: str) -> str | None:
    """The role behind an assumed-role ARN (an Identity Center one included), without its path; else None."""
    assumed = _ASSUMED_ROLE.fullmatch(arn)
    if assumed is None:
        return None
    return f"arn:{assumed['partition']}:iam::{assumed['account']}:role/{assumed['role']}"


def is_listed(arn: str, principals: tuple[str, ...]) -> bool:
    """Whether the caller is one of ``principals``: the same identity, or a session of a listed role (so listing an
    Identity Center permission set's role admits each of its users, each still a separate identity)."""
    key = identity_key(arn)
    role = role_of(arn)
    for principal in principals:
        listed = identity_key(principal)
        if listed == key or (role is not None and listed == role):
            return True
    return False
