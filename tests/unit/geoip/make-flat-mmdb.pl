#!/usr/bin/perl
# make-flat-mmdb.pl OUTPUT.mmdb: a tiny mmdb in the flat ip-location-db "dbip-city" layout (tests).
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUTPUT.mmdb\n";
my %types = (
    country_code => 'utf8_string',
    state1       => 'utf8_string',
    state2       => 'utf8_string',
    city         => 'utf8_string',
    postcode     => 'utf8_string',
    latitude     => 'float',
    longitude    => 'float',
    timezone     => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 24,
    database_type            => 'dbip-city-lite',
    languages                => ['en'],
    description              => { en => 'flat test database' },
    map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
);
$tree->insert_network('192.0.2.0/24', { country_code => 'DE', state1 => 'Hesse', city => 'Frankfurt am Main',
    latitude => 50.1109, longitude => 8.6821, timezone => 'Europe/Berlin' });
$tree->insert_network('2001:db8:1::/48', { country_code => 'BR', state1 => 'Sao Paulo', city => 'Sao Paulo',
    latitude => -23.5505, longitude => -46.6333, timezone => 'America/Sao_Paulo' });
open my $fh, '>:raw', $out or die "open $out: $!\n";
$tree->write_tree($fh);
close $fh or die "close: $!\n";
