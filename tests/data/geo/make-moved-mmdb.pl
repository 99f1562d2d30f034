#!/usr/bin/perl
# make-moved-mmdb.pl OUTPUT.mmdb: a second GeoIP2-City-schema database for geo_reload.sh, like
# the example one but 192.0.2.0/24 (Paris there) is in Tokyo, and 198.51.100.0/24 (Chicago) is
# in Buenos Aires. Only the fields geodnsd reads (location, country, continent, subdivisions).
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my $out = shift @ARGV or die "usage: $0 OUTPUT.mmdb\n";
my %city = (
    'Tokyo'        => [ 35.6762,  139.6503, 'JP', 'AS', '13' ],
    'Buenos Aires' => [ -34.6037, -58.3816, 'AR', 'SA', 'C' ],
);
my @nets = (
    [ '192.0.2.0/24',    'Tokyo' ],
    [ '127.255.1.0/24',  'Tokyo' ],
    [ '198.51.100.0/24', 'Buenos Aires' ],
);
my %types = (
    continent    => 'map',
    country      => 'map',
    location     => 'map',
    subdivisions => [ 'array', 'map' ],
    code         => 'utf8_string',
    iso_code     => 'utf8_string',
    latitude     => 'double',
    longitude    => 'double',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 28,
    database_type            => 'GeoIP2-City',
    languages                => ['en'],
    description              => { en => 'geodnsd test database (moved networks)' },
    map_key_type_callback    => sub { $types{ $_[0] } // die "no type for key $_[0]\n" },
    remove_reserved_networks => 0,
    alias_ipv6_to_ipv4       => 1,
);
for my $n (@nets) {
    my ( $net, $name ) = @$n;
    my ( $lat, $lon, $cc, $cont, $sub ) = @{ $city{$name} };
    $tree->insert_network(
        $net,
        {
            continent    => { code => $cont },
            country      => { iso_code => $cc },
            location     => { latitude => $lat, longitude => $lon },
            subdivisions => [ { iso_code => $sub } ],
        },
    );
}
open my $fh, '>:raw', "$out.tmp" or die "open $out.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "close $out.tmp: $!\n";
rename "$out.tmp", $out or die "rename $out: $!\n";
